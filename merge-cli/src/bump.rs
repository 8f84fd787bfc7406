//! `cargo merge bump MEMBER --rev REV`: moves a git member's pin in the plan, editing the file
//! in place (toml_edit: its comments, order and layout kept), and says which groups must be
//! rebuilt. The plan is written atomically, and only once the new pin is known to be valid
//! TOML for the member.

use std::io::Write as _;

use anyhow::Context as _;
use merge_analyzer::error::InputCode;
use merge_analyzer::members;
use serde::Serialize;
use toml_edit::{DocumentMut, Item, Value};

use crate::Failure;
use crate::cli::{BumpArgs, MessageFormat};
use crate::diagnostic::Diagnostic;
use crate::fsx;

/// The `bumped` JSON line.
#[derive(Debug, Serialize)]
struct Bumped<'a> {
    reason: &'static str,
    member: &'a str,
    /// The pin before (`tag v1.0.0`), if it had one.
    from: Option<String>,
    to: String,
    /// Groups holding the member: each must be rebuilt.
    groups: Vec<&'a str>,
}

const PINS: [&str; 3] = ["rev", "tag", "branch"];

pub fn exec(args: &BumpArgs) -> Result<(), Failure> {
    // The plan is read as every command reads it first: a bad plan is an error with its line.
    let plan =
        members::read_plan(&args.plan).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let input = |message: String, help: &'static str| {
        let mut d = Diagnostic::usage(InputCode::InvalidValue, message, help);
        d.file = Some(args.plan.clone());
        d.line = plan.service_line(&args.member);
        Failure::Input(vec![d])
    };
    let Some(service) = plan.plan.service.get(&args.member) else {
        return Err(input(
            format!("the plan has no [service.{}]", args.member),
            "name a member the plan gives a [service.NAME] table",
        ));
    };
    if service.git.is_none() {
        return Err(input(
            format!(
                "member `{}` is a folder, not a git member: there is no pin to move",
                args.member
            ),
            "give it `git = \"URL\"` (and `manifest`, the path in the repository) to build it at a revision",
        ));
    }
    let (key, value) = match (&args.rev, &args.tag, &args.branch) {
        (Some(r), _, _) => ("rev", r),
        (_, Some(t), _) => ("tag", t),
        (_, _, Some(b)) => ("branch", b),
        _ => unreachable!("clap requires one of --rev, --tag and --branch"),
    };
    if value.is_empty() || value.starts_with('-') {
        return Err(input(
            format!(
                "`{value}` is not a pin: a commit, tag or branch name, not empty and not starting with `-`"
            ),
            "give the member's new commit, tag or branch",
        ));
    }
    let from = PINS.iter().find_map(|k| {
        let v = match *k {
            "rev" => &service.rev,
            "tag" => &service.tag,
            _ => &service.branch,
        };
        v.as_ref().map(|v| format!("{k} {v}"))
    });
    let mut doc: DocumentMut = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("cannot read `{}`", args.plan.display()))?
        .parse()
        .with_context(|| format!("`{}` is not TOML", args.plan.display()))?;
    let table = doc
        .get_mut("service")
        .and_then(|s| s.get_mut(&args.member))
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| {
            input(
                format!("[service.{}] is not a table", args.member),
                "write it as a [service.NAME] table",
            )
        })?;
    set(table, key, value);
    for other in PINS.iter().filter(|k| **k != key) {
        table.remove(other);
    }
    // A pin and the newest-tag policy cannot both hold: the pin is what the user asked for.
    let untracked = table.remove("track").is_some();
    fsx::write_all_if_changed(&[(&args.plan, doc.to_string().as_bytes())])?;
    let groups: Vec<&str> = plan
        .plan
        .group
        .iter()
        .filter(|g| g.members.contains(&args.member))
        .map(|g| g.name.as_str())
        .collect();
    let to = format!("{key} {value}");
    if args.github {
        let mut r = crate::github::Report::default();
        r.output("groups", groups.join("\n"));
        r.output("pin", to.clone());
        r.summary = format!(
            "### cargo merge bump\n\n`{}`: {} -> {to}; to rebuild: {}\n\n",
            args.member,
            from.as_deref().unwrap_or("HEAD"),
            groups
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        r.write()?;
    }
    let mut stdout = std::io::stdout().lock();
    if args.message_format == MessageFormat::Json {
        let line = Bumped {
            reason: "bumped",
            member: &args.member,
            from,
            to,
            groups,
        };
        crate::json::line(&line).context("failed to write to stdout")?;
        return Ok(());
    }
    crate::status::status(
        "Bumped",
        &format!(
            "`{}`: {} -> {to}{}",
            args.member,
            from.as_deref().unwrap_or("HEAD"),
            if untracked {
                " (no longer `track = \"latest-tag\"`)"
            } else {
                ""
            }
        ),
    );
    for g in groups {
        writeln!(
            stdout,
            "group `{g}` must be rebuilt: cargo merge build --plan {} --group {g}",
            args.plan.display()
        )
        .context("failed to write to stdout")?;
    }
    Ok(())
}

/// Sets `key` to `value` in `table`, keeping the decoration (comments) of a value it replaces.
fn set(table: &mut dyn toml_edit::TableLike, key: &str, value: &str) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = Value::from(value);
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, Item::Value(Value::from(value)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_value_keeps_its_comment() {
        let mut doc: DocumentMut = "[service.p]\ngit = \"x\"\nrev = \"a\" # the release\n"
            .parse()
            .expect("TOML");
        let t = doc["service"]["p"].as_table_like_mut().expect("table");
        set(t, "rev", "b");
        set(t, "tag", "v2");
        assert_eq!(
            doc.to_string(),
            "[service.p]\ngit = \"x\"\nrev = \"b\" # the release\ntag = \"v2\"\n"
        );
    }
}
