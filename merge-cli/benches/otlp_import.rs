//! `cargo bench --bench otlp_import`: `cargo merge analyze` on 10 million OpenTelemetry spans in
//! OTLP JSON lines (the collector's file exporter format): the time of the whole run (read,
//! join, analyze, report) and its peak RSS.
//!
//! The spans come from merge-traffic-gen (`write_otlp`, seed 1: 200 services, traces of about
//! 12 spans) and are cached as `<target>/bench-data/otlp-<spans>.jsonl`. `MERGE_BENCH_SPANS`
//! changes the count. The peak RSS is measured on the first child this process waits for.
//! Under `cargo test --benches` (criterion's test mode) 20,000 spans are used.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use merge_traffic_gen::{SpanConfig, write_otlp};
use support::{analyze, median_secs, peak_rss_kib, target_dir};

const SPANS: u64 = 10_000_000;
const SEED: u64 = 1;
/// Bumped when the generator's output changes, so cached files are made again.
const DATA_VERSION: u32 = 1;

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let spans = match std::env::var("MERGE_BENCH_SPANS") {
        Ok(s) => s
            .parse::<u64>()
            .expect("MERGE_BENCH_SPANS is a whole number"),
        Err(_) if bench_mode => SPANS,
        Err(_) => 20_000,
    };
    let target = target_dir();
    let file = prepare(&target, spans);
    let rss = peak_rss_kib(&file);
    eprintln!("peak RSS of cargo merge analyze: {} MiB", rss / 1024);

    let mut c = Criterion::default()
        .output_directory(&target.join("criterion"))
        .configure_from_args();
    {
        let mut group = c.benchmark_group("otlp_import");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if spans >= 1_000_000 { 60 } else { 5 }));
        group.bench_function("cargo_merge_analyze", |b| b.iter(|| analyze(&file)));
        group.finish();
    }
    c.final_summary();
    eprintln!();
    eprintln!("peak RSS of cargo merge analyze: {} MiB", rss / 1024);
    if bench_mode {
        let dir = target.join("criterion/otlp_import/cargo_merge_analyze");
        if let Some(secs) = median_secs(&dir) {
            eprintln!(
                "median cargo_merge_analyze: {secs:.3} s for {spans} spans ({:.2} M spans/s)",
                spans as f64 / secs / 1e6
            );
        }
    }
}

/// The spans file for `spans`, generated when missing or made by another generator.
fn prepare(target: &Path, spans: u64) -> PathBuf {
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("the bench-data folder");
    let file = dir.join(format!("otlp-{spans}.jsonl"));
    let stamp = format!("merge-traffic-gen v{DATA_VERSION} spans={spans} seed={SEED}\n");
    let stamp_path = dir.join(format!("otlp-{spans}.generated-by.txt"));
    let mib = |f: &Path| std::fs::metadata(f).map_or(0, |m| m.len()) / (1 << 20);
    if file.is_file() && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        eprintln!("spans: {} ({} MiB, cached)", file.display(), mib(&file));
        return file;
    }
    let partial = dir.join(format!("otlp-{spans}.jsonl.partial"));
    let start = Instant::now();
    let written = std::fs::File::create(&partial)
        .and_then(|f| write_otlp(&SpanConfig::new(spans, SEED), f))
        .expect("generate the spans");
    std::fs::rename(&partial, &file).expect("move the spans file in place");
    std::fs::write(&stamp_path, &stamp).expect("write the stamp");
    eprintln!(
        "spans: generated {written} in {:.2} s into {} ({} MiB)",
        start.elapsed().as_secs_f64(),
        file.display(),
        mib(&file)
    );
    file
}
