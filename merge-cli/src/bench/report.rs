//! What bench prints: both setups side by side as a table, JSON lines or Markdown.

use std::collections::BTreeMap;

use serde::Serialize;

/// One setup's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SetupResult {
    pub reason: &'static str,
    pub setup: &'static str,
    pub requests: u64,
    pub rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub cpu_s_per_request: f64,
    pub peak_rss_mib: f64,
    /// Answers that were not Ok (errors the services gave, and calls not answered in time).
    pub failed: u64,
    /// Calls between members by the path they took (the merged binary's counters; split
    /// processes serve none).
    pub calls: BTreeMap<String, u64>,
}

/// The two setups compared.
#[derive(Debug, Clone, Serialize)]
pub struct Compare {
    pub reason: &'static str,
    pub mismatches: u64,
    /// Split's CPU per request over merged's (above 1: merged uses less).
    pub cpu_ratio: f64,
    /// Split's median latency over merged's (above 1: merged answers faster).
    pub p50_ratio: f64,
}

pub fn compare(split: &SetupResult, merged: &SetupResult, mismatches: u64) -> Compare {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Compare {
        reason: "bench-compare",
        mismatches,
        cpu_ratio: ratio(split.cpu_s_per_request, merged.cpu_s_per_request),
        p50_ratio: ratio(split.p50_us as f64, merged.p50_us as f64),
    }
}

fn calls(c: &BTreeMap<String, u64>) -> String {
    if c.is_empty() {
        return "-".to_owned();
    }
    c.iter()
        .map(|(path, n)| format!("{path} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(split: &SetupResult, merged: &SetupResult, cmp: &Compare) -> Vec<[String; 4]> {
    let f = |v: f64, digits: usize| format!("{v:.digits$}");
    let us = |v: u64| format!("{:.3} ms", v as f64 / 1000.0);
    // How many times better merged is: more requests, less of everything else.
    let gain = |better: f64, worse: f64| {
        if worse > 0.0 {
            format!("{:.2}x", better / worse)
        } else {
            "-".to_owned()
        }
    };
    let lower = |s: u64, m: u64| gain(s as f64, m as f64);
    vec![
        [
            "requests".into(),
            split.requests.to_string(),
            merged.requests.to_string(),
            String::new(),
        ],
        [
            "requests/s".into(),
            f(split.rps, 1),
            f(merged.rps, 1),
            gain(merged.rps, split.rps),
        ],
        [
            "p50".into(),
            us(split.p50_us),
            us(merged.p50_us),
            lower(split.p50_us, merged.p50_us),
        ],
        [
            "p90".into(),
            us(split.p90_us),
            us(merged.p90_us),
            lower(split.p90_us, merged.p90_us),
        ],
        [
            "p99".into(),
            us(split.p99_us),
            us(merged.p99_us),
            lower(split.p99_us, merged.p99_us),
        ],
        [
            "max".into(),
            us(split.max_us),
            us(merged.max_us),
            lower(split.max_us, merged.max_us),
        ],
        [
            "CPU per request".into(),
            format!("{:.1} µs", split.cpu_s_per_request * 1e6),
            format!("{:.1} µs", merged.cpu_s_per_request * 1e6),
            format!("{:.2}x", cmp.cpu_ratio),
        ],
        [
            "peak RSS".into(),
            format!("{:.1} MiB", split.peak_rss_mib),
            format!("{:.1} MiB", merged.peak_rss_mib),
            gain(split.peak_rss_mib, merged.peak_rss_mib),
        ],
        [
            "non-Ok answers".into(),
            split.failed.to_string(),
            merged.failed.to_string(),
            String::new(),
        ],
        [
            "calls between members".into(),
            calls(&split.calls),
            calls(&merged.calls),
            String::new(),
        ],
        [
            "mismatched answers".into(),
            String::new(),
            cmp.mismatches.to_string(),
            String::new(),
        ],
    ]
}

const HEAD: [&str; 4] = ["", "split", "merged", "merged better by"];

/// The human table.
pub fn table(split: &SetupResult, merged: &SetupResult, cmp: &Compare) -> String {
    let rows = rows(split, merged, cmp);
    let mut widths = HEAD.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(HEAD);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out
}

/// The Markdown table, for a pull-request comment.
pub fn markdown(group: &str, split: &SetupResult, merged: &SetupResult, cmp: &Compare) -> String {
    let mut out = format!("#### cargo merge bench: group `{group}`\n\n");
    out.push_str("| | split | merged | merged better by |\n|---|---:|---:|---:|\n");
    for r in rows(split, merged, cmp) {
        out.push_str(&format!("| {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(name: &'static str, p50: u64, cpu: f64) -> SetupResult {
        SetupResult {
            reason: "bench-result",
            setup: name,
            requests: 1000,
            rps: 100.0,
            p50_us: p50,
            p90_us: p50 * 2,
            p99_us: p50 * 3,
            max_us: p50 * 4,
            cpu_s_per_request: cpu,
            peak_rss_mib: 10.0,
            failed: 0,
            calls: BTreeMap::new(),
        }
    }

    #[test]
    fn ratios_say_how_much_merged_saves_and_every_format_shows_them() {
        let split = setup("split", 900, 0.75);
        let mut merged = setup("merged", 300, 0.25);
        merged.calls.insert("inline".to_owned(), 2000);
        let cmp = compare(&split, &merged, 0);
        assert!((cmp.cpu_ratio - 3.0).abs() < 1e-9 && (cmp.p50_ratio - 3.0).abs() < 1e-9);
        let t = table(&split, &merged, &cmp);
        assert!(
            t.contains("p50") && t.contains("0.900 ms") && t.contains("3.00x"),
            "{t}"
        );
        assert!(t.contains("inline 2000"), "{t}");
        let md = markdown("shop", &split, &merged, &cmp);
        assert!(
            md.contains("| CPU per request | 750000.0 µs | 250000.0 µs | 3.00x |"),
            "{md}"
        );
        let json = serde_json::to_string(&cmp).expect("json");
        assert_eq!(
            json,
            "{\"reason\":\"bench-compare\",\"mismatches\":0,\"cpu_ratio\":3.0,\"p50_ratio\":3.0}"
        );
    }
}
