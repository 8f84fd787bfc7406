//! Status and error lines on stderr, cargo style: a verb right-aligned in 12 columns, coloured
//! when stderr is a terminal (anstream drops the colour otherwise and honours NO_COLOR).

use anstyle::{AnsiColor, Style};

const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();

/// `    Wrote merge.toml`
pub fn status(verb: &str, message: &str) {
    anstream::eprintln!("{GREEN}{verb:>12}{GREEN:#} {message}");
}

/// `error: ...`
pub fn error(message: &str) {
    anstream::eprintln!("{RED}error{RED:#}: {message}");
}

/// `warning: ...`
pub fn warning(message: &str) {
    anstream::eprintln!("{YELLOW}warning{YELLOW:#}: {message}");
}
