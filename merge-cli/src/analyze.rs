//! `cargo merge analyze`: traffic in, report (and optionally plan and picture) out.

use std::io::Write;

use merge_analyzer::import::{self, Format};
use merge_analyzer::{Assumed, ImportError, Thresholds, dot, plan::Plan, profiles};

use crate::cli::{AnalyzeArgs, MessageFormat, TrafficFormat};
use crate::{Failure, fsx, human, json, status};

pub fn exec(args: &AnalyzeArgs) -> Result<(), Failure> {
    let format = args.format.map(|f| match f {
        TrafficFormat::Native => Format::Native,
        TrafficFormat::Alibaba => Format::Alibaba,
        TrafficFormat::Dgg => Format::Dgg,
    });
    let mut traffic = import::load(&args.traffic, format).map_err(input_failure)?;
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
    let plan_text = args.plan_out.as_ref().map(|path| {
        let dir = path.parent().unwrap_or(std::path::Path::new(""));
        Plan::from_analysis(&analysis, &traffic, dir).to_toml()
    });
    let dot_text = args.dot.as_ref().map(|_| dot::render(&traffic, &analysis));

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let printed = match args.message_format {
        MessageFormat::Human => {
            human::report(&mut out, &args.traffic, &traffic, &analysis, args.limit)
        }
        MessageFormat::Json => json::merge_plan(&mut out, &traffic, &analysis),
    }
    .and_then(|()| out.flush());
    ignore_broken_pipe(printed)?;

    for (path, text) in [(&args.plan_out, plan_text), (&args.dot, dot_text)] {
        if let (Some(path), Some(text)) = (path, text) {
            let changed = fsx::write_if_changed(path, text.as_bytes())?;
            let verb = if changed { "Wrote" } else { "Unchanged" };
            status::status(verb, &path.display().to_string());
        }
    }
    Ok(())
}

fn input_failure(e: ImportError) -> Failure {
    match e {
        ImportError::Input { errors, more } => {
            let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            if more > 0 {
                lines.push(format!("... and {more} more problems"));
            }
            Failure::Input(lines)
        }
        io @ ImportError::Io { .. } => {
            let e = anyhow::Error::new(io);
            Failure::Input(vec![format!("{e:#}")])
        }
    }
}

/// A closed stdout (`| head`) ends the report quietly.
fn ignore_broken_pipe(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(
            anyhow::Error::new(e).context("failed to write the report"),
        )),
        _ => Ok(()),
    }
}
