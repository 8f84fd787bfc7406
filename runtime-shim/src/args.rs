//! Each member's own command line. One process has one argv, which the merged binary keeps for
//! itself (`--help`, `--member-args`): members see only their program name, unless
//! `--member-args NAME="..."` gives member NAME its arguments. `cargo merge build` rewrites a
//! member's reads of the command line (`std::env::args()`, `args_os()`, clap's `parse()` and
//! `get_matches()`) into [`args`] and [`args_os`], which answer for the member whose code runs
//! on the calling thread.

use std::collections::BTreeMap;
use std::ffi::OsString;
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

/// Reads the merged binary's command line (`argv`, its name first) and sets every member's
/// argv: `programs` are (member, program name); `--member-args NAME=ARGS` (or
/// `--member-args=NAME=ARGS`, repeatable) splits ARGS as a shell does (quotes, backslashes).
/// An error names what was wrong, for the binary to print with its usage.
pub fn configure(
    argv: impl IntoIterator<Item = OsString>,
    programs: &[(&'static str, &'static str)],
) -> Result<Command, String> {
    let mut given: BTreeMap<&'static str, Vec<OsString>> = BTreeMap::new();
    let mut rest = argv.into_iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("`{}` is not UTF-8", a.to_string_lossy()))?;
        let value = match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--member-args" => rest
                .next()
                .ok_or("--member-args needs NAME=ARGS")?
                .into_string()
                .map_err(|a| format!("`{}` is not UTF-8", a.to_string_lossy()))?,
            other => match other.strip_prefix("--member-args=") {
                Some(v) => v.to_owned(),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        };
        let (name, words) = value
            .split_once('=')
            .ok_or_else(|| format!("--member-args `{value}`: expected NAME=ARGS"))?;
        let Some(&(member, _)) = programs.iter().find(|(m, _)| *m == name) else {
            let known: Vec<&str> = programs.iter().map(|(m, _)| *m).collect();
            return Err(format!(
                "--member-args: no member `{name}` (members: {})",
                known.join(", ")
            ));
        };
        let words = split(words).map_err(|e| format!("--member-args {name}: {e}"))?;
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
pub fn split(line: &str) -> Result<Vec<String>, String> {
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
                        None => return Err("unclosed '".to_owned()),
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
                            None => return Err("unclosed \"".to_owned()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unclosed \"".to_owned()),
                    }
                }
            }
            '\\' => {
                let escaped = chars.next().ok_or("a trailing backslash")?;
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
        assert!(split("'open").is_err());
        assert!(split("x\\").is_err());
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
            Err("unexpected argument `--verbose`".to_owned())
        );
        assert_eq!(
            configure(argv(&["fleet", "--member-args", "west=--x"]), &programs),
            Err("--member-args: no member `west` (members: north, south)".to_owned())
        );
        assert_eq!(
            configure(argv(&["fleet", "--member-args=north"]), &programs),
            Err("--member-args `north`: expected NAME=ARGS".to_owned())
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
