//! The catalogue of codes (merge_analyzer::codes) against README's code tables, and
//! `cargo merge explain` run as a user runs it.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use merge_analyzer::codes::{self, CheckCode, Reason};
use support::{root, text};

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .env("NO_COLOR", "1")
        .args(["merge", "explain"])
        .args(args)
        .output()
        .expect("run cargo-merge")
}

/// The rows of README's table under the header line `header`: first cell's codes -> second cell.
fn table(header: &str) -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut lines = readme.lines().skip_while(|l| l.trim() != header);
    assert!(lines.next().is_some(), "README has no table `{header}`");
    let mut rows = BTreeMap::new();
    for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line
            .split(" | ")
            .map(|c| c.trim_matches('|').trim())
            .collect();
        for code in cells[0].split(", ") {
            let code = code.trim_matches('`').to_owned();
            assert!(
                rows.insert(code.clone(), cells[1].to_owned()).is_none(),
                "`{code}` twice in README's table `{header}`"
            );
        }
    }
    rows
}

#[test]
fn readme_check_table_is_the_catalogue() {
    let readme = table("| code | severity | what |");
    let catalogue: BTreeMap<String, String> = CheckCode::ALL
        .iter()
        .map(|c| (c.name().to_owned(), c.entry().severity.to_owned()))
        .collect();
    assert_eq!(readme, catalogue, "README's check codes and severities");
}

#[test]
fn readme_rejection_table_is_the_catalogue() {
    let readme = table("| code | meaning |");
    let catalogue: BTreeMap<String, String> = Reason::ALL
        .iter()
        .map(|r| (r.name().to_owned(), r.entry().summary.to_owned()))
        .collect();
    assert_eq!(readme, catalogue, "README's rejection reasons");
}

#[test]
fn every_code_is_explained() {
    for e in codes::all() {
        let out = explain(&[e.name]);
        assert!(out.status.success(), "{}: {}", e.name, text(&out.stderr));
        let said = text(&out.stdout);
        for part in [e.summary, e.explanation, e.example, e.help] {
            assert!(said.contains(part), "{}: `{part}` not in\n{said}", e.name);
        }
    }
    let list = text(&explain(&[]).stdout);
    for e in codes::all() {
        assert!(
            list.contains(&format!("  {} ", e.name)),
            "{} not listed",
            e.name
        );
    }
}

#[test]
fn an_unknown_code_is_a_usage_error() {
    let out = explain(&["global-tracing-inti"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "`global-tracing-inti` is not a cargo-merge code; did you mean `global-tracing-init`?"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .args([
            "merge",
            "build",
            "--plan",
            "p.toml",
            "--allow",
            "no-such-code",
        ])
        .output()
        .expect("run cargo-merge");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a check code"),
        "{}",
        text(&out.stderr)
    );
}
