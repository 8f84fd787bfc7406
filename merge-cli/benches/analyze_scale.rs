//! `cargo bench --bench analyze_scale`: `cargo merge analyze` on a ByteDance-sized call graph
//! (300,000 services, 3,000,000 edges, native CSV folder) against Python's `csv` module merely
//! reading the same two files. The goal: analyze at least 3 times faster than that read, under
//! 2 GiB peak RSS. `cargo_merge_analyze_json` is the same with `--message-format json` (every
//! merged edge and the 20 heaviest rejected ones); the goal: at most 1.2 times the human
//! report's time.
//!
//! The graph comes from merge-traffic-gen (seed 1) and is cached under
//! `<target>/bench-data/scale-<services>-<calls>/`. `MERGE_BENCH_SCALE=0.01` shrinks it for a
//! quick check. The peak RSS of `cargo merge analyze` is measured in the first child this
//! process waits for, before any other, since `RUSAGE_CHILDREN` keeps the maximum over all.
//! Under `cargo test --benches` (criterion's test mode) a tiny graph is used.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};
use support::{analyze, analyze_with, median_secs, peak_rss_kib, target_dir};

use criterion::{Criterion, SamplingMode};
use merge_traffic_gen::{GenConfig, write_csv_dir};

const SERVICES: f64 = 300_000.0;
const CALLS: f64 = 3_000_000.0;
const SEED: u64 = 1;
/// Bumped when the generator's output changes, so cached folders are made again.
const DATA_VERSION: u32 = 1;

/// Reads both files with the csv module and consumes every row, nothing more.
const PYTHON_READ: &str = r#"
import csv, sys
rows = 0
for name in ("services.csv", "calls.csv"):
    with open(sys.argv[1] + "/" + name, newline="") as f:
        for row in csv.reader(f):
            rows += 1
print(rows)
"#;

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let scale = match std::env::var("MERGE_BENCH_SCALE") {
        Ok(s) => s
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0 && *v <= 1.0)
            .expect("MERGE_BENCH_SCALE is a number in (0, 1]"),
        Err(_) if bench_mode => 1.0,
        Err(_) => 0.001, // test mode: a tiny graph, run once
    };
    let target = target_dir();
    let data = prepare(&target, scale);

    let rss = peak_rss_kib(&data);
    eprintln!("peak RSS of cargo merge analyze: {} MiB", rss / 1024);

    let python = python_available();
    let mut c = Criterion::default()
        .output_directory(&target.join("criterion"))
        .configure_from_args();
    {
        let mut group = c.benchmark_group("analyze_scale");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(if scale >= 0.5 { 30 } else { 5 }));
        group.bench_function("cargo_merge_analyze", |b| b.iter(|| analyze(&data)));
        group.bench_function("cargo_merge_analyze_json", |b| {
            b.iter(|| analyze_with(&data, &["--message-format", "json"]))
        });
        if python {
            group.bench_function("python_csv_read", |b| b.iter(|| python_read(&data)));
        } else {
            eprintln!("note: python3 is not installed; skipping python_csv_read");
        }
        group.finish();
    }
    c.final_summary();

    eprintln!();
    eprintln!("peak RSS of cargo merge analyze: {} MiB", rss / 1024);
    if bench_mode {
        let dir = target.join("criterion").join("analyze_scale");
        let ours = median_secs(&dir.join("cargo_merge_analyze"));
        let theirs = median_secs(&dir.join("python_csv_read"));
        if let Some(ours) = ours {
            eprintln!("median cargo_merge_analyze: {ours:.3} s");
        }
        if let (Some(ours), Some(json)) = (ours, median_secs(&dir.join("cargo_merge_analyze_json")))
        {
            eprintln!("median cargo_merge_analyze_json: {json:.3} s");
            eprintln!("json / human: {:.2}x", json / ours);
        }
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            eprintln!("median python_csv_read: {theirs:.3} s");
            eprintln!(
                "python_csv_read / cargo_merge_analyze: {:.2}x",
                theirs / ours
            );
        }
    }
}

/// The traffic folder for `scale`, generated when missing or made by another generator.
fn prepare(target: &Path, scale: f64) -> PathBuf {
    let services = ((SERVICES * scale) as usize).max(10);
    let calls = ((CALLS * scale) as usize).max(50);
    let name = if scale == 1.0 {
        "scale-300k-3m".to_string()
    } else {
        format!("scale-{services}-{calls}")
    };
    let dir = target.join("bench-data").join(&name);
    let stamp = format!(
        "merge-traffic-gen v{DATA_VERSION} services={services} calls={calls} seed={SEED}\n"
    );
    let stamp_path = dir.join("generated-by.txt");
    let sizes = |dir: &Path| {
        let mib = |f: &str| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()) / (1 << 20);
        format!(
            "services.csv {} MiB, calls.csv {} MiB",
            mib("services.csv"),
            mib("calls.csv")
        )
    };
    if std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        eprintln!("traffic: {} ({}, cached)", dir.display(), sizes(&dir));
        return dir;
    }
    // Made beside the final folder and renamed, so an interrupted run leaves no half folder.
    let partial = target.join("bench-data").join(format!("{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let start = Instant::now();
    let cfg = GenConfig::new(services, calls, SEED);
    write_csv_dir(&cfg, &partial).expect("generate the traffic folder");
    std::fs::write(partial.join("generated-by.txt"), &stamp).expect("write the stamp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir).expect("move the traffic folder in place");
    eprintln!(
        "traffic: generated {services} services and {calls} calls in {:.2} s into {} ({})",
        start.elapsed().as_secs_f64(),
        dir.display(),
        sizes(&dir)
    );
    dir
}

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn python_read(dir: &Path) {
    let out = Command::new("python3")
        .args(["-c", PYTHON_READ])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
