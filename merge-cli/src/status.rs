//! Status and error lines on stderr, cargo style: a verb right-aligned in 12 columns, coloured
//! when stderr is a terminal (anstream drops the colour otherwise and honours NO_COLOR).

use anstyle::{AnsiColor, Style};

const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default().bold();

/// `    Wrote merge.toml`
pub fn status(verb: &str, message: &str) {
    anstream::eprintln!("{GREEN}{verb:>12}{GREEN:#} {message}");
}

/// `error: ...`
pub fn error(message: &str) {
    anstream::eprintln!("{RED}error{RED:#}: {message}");
}

/// `error[code]: ...`
pub fn coded_error(code: &str, message: &str) {
    anstream::eprintln!("{RED}error[{code}]{RED:#}: {message}");
}

/// `help[code]: ...`
pub fn coded_help(code: &str, message: &str) {
    anstream::eprintln!("{CYAN}help[{code}]{CYAN:#}: {message}");
}

/// `warning: ...`
pub fn warning(message: &str) {
    anstream::eprintln!("{YELLOW}warning{YELLOW:#}: {message}");
}
