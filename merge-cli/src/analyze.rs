//! `cargo merge analyze`: traffic in, report (and optionally plan and picture) out.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use merge_analyzer::error::InputCode;
use merge_analyzer::paths::resolve;

use merge_analyzer::import;
use merge_analyzer::{Assumed, ImportError, Thresholds, dot, plan::Plan, profiles};

use crate::cli::{AnalyzeArgs, MessageFormat, TrafficFormat};
use crate::diagnostic::Diagnostic;
use crate::{Failure, fsx, human, json, status};

/// The plan for `traffic` (native, Alibaba or DGG, guessed from the path) with the default
/// thresholds and the file's own, written for a plan file in `plan_dir`: `build --traffic`.
pub fn plan_for(traffic_path: &Path, plan_dir: &Path) -> Result<String, Failure> {
    let traffic = import::load(traffic_path, None).map_err(input_failure)?;
    let mut thresholds = Thresholds::default();
    thresholds.apply(&traffic.thresholds);
    let analysis = merge_analyzer::analyze(&traffic, &thresholds, &Assumed::default());
    if analysis.groups.is_empty() {
        return Err(Failure::Input(vec![Diagnostic::usage(
            InputCode::NothingToMerge,
            format!(
                "`{}` gives no group to merge with the default thresholds",
                traffic_path.display()
            ),
            "run `cargo merge analyze --traffic PATH` to see why each edge was rejected, and tune it there",
        )]));
    }
    let plan = Plan::from_analysis(&analysis, &traffic, plan_dir);
    Ok(plan.to_toml().context("failed to serialise the plan")?)
}

pub fn exec(args: &AnalyzeArgs) -> Result<(), Failure> {
    check_outputs(args)?;
    let options = import::Options {
        format: args.format.map(TrafficFormat::format),
        window: args.window,
        sample_rate: args.sample_rate,
    };
    let mut traffic = import::load_all(&args.traffic, &options).map_err(input_failure)?;
    if let Some(dir) = &args.profiles {
        let patterns = if args.encoding_frames.is_empty() {
            profiles::DEFAULT_PATTERNS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            args.encoding_frames.clone()
        };
        let notes = profiles::apply(&mut traffic, dir, &patterns).map_err(input_failure)?;
        for n in notes {
            status::warning(&n);
        }
    }

    let mut thresholds = Thresholds::default();
    thresholds.apply(&traffic.thresholds);
    thresholds.apply(&args.thresholds.overrides());
    let assumed = Assumed {
        encoding_cost: args.assume_encoding_cost,
        cores: args.assume_cores,
    };
    let analysis = merge_analyzer::analyze(&traffic, &thresholds, &assumed);

    // Everything is rendered before anything is written, so a failure leaves no partial output.
    let mut files: Vec<(&Path, String)> = Vec::new();
    if let Some(path) = &args.plan_out {
        let dir = path.parent().unwrap_or(Path::new(""));
        let plan = Plan::from_analysis(&analysis, &traffic, dir);
        let text = plan.to_toml().context("failed to serialise the plan")?;
        files.push((path, text));
    }
    if let Some(path) = &args.dot {
        files.push((path, dot::render(&traffic, &analysis)));
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let printed = match args.message_format {
        MessageFormat::Human => human::report(&mut out, &traffic, &analysis, args.limit),
        MessageFormat::Json => json::merge_plan(&mut out, &traffic, &analysis, args.limit),
    }
    .and_then(|()| out.flush());
    ignore_broken_pipe(printed)?;

    let bytes: Vec<(&Path, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    let changed = fsx::write_all_if_changed(&bytes)?;
    for ((path, _), changed) in files.iter().zip(changed) {
        let verb = if changed { "Wrote" } else { "Unchanged" };
        status::status(verb, &path.display().to_string());
    }
    // The process ends right after this: freeing millions of nodes and edges one by one would
    // only delay the exit (about a tenth of a second on 3M edges).
    std::mem::forget(analysis);
    std::mem::forget(traffic);
    Ok(())
}

/// The outputs must not overwrite the traffic input or each other.
fn check_outputs(args: &AnalyzeArgs) -> Result<(), Failure> {
    let inputs: Vec<PathBuf> = args.traffic.iter().map(|p| resolve(p)).collect();
    let outputs = [("--plan-out", &args.plan_out), ("--dot", &args.dot)];
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, path) in outputs {
        let Some(path) = path else { continue };
        let path = resolve(path);
        if inputs.contains(&path) {
            let message = format!(
                "{flag} {} would overwrite the traffic input",
                path.display()
            );
            return Err(Failure::Input(vec![Diagnostic::usage(
                InputCode::OutputConflict,
                message,
                "write the plan and the picture to files of their own",
            )]));
        }
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == path) {
            let message = format!("{flag} and {other} name the same file `{}`", path.display());
            return Err(Failure::Input(vec![Diagnostic::usage(
                InputCode::OutputConflict,
                message,
                "write the plan and the picture to files of their own",
            )]));
        }
        seen.push((flag, path));
    }
    Ok(())
}

fn input_failure(e: ImportError) -> Failure {
    Failure::Input(Diagnostic::from_import(e))
}

/// A closed stdout (`| head`) ends the report quietly.
/// A report cut short by its reader (`| head`) is not a failure.
pub fn ignore_broken_pipe(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(
            anyhow::Error::new(e).context("failed to write the report"),
        )),
        _ => Ok(()),
    }
}
