//! What the analyze benchmarks share: the target folder, one run of `cargo merge analyze`, its
//! peak memory, and criterion's median.

// getrusage is the one call that needs it; the workspace denies unsafe code elsewhere.
#![allow(unsafe_code)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target folder: $CARGO_TARGET_DIR, else the one the cargo-merge binary was built in.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = Path::new(env!("CARGO_BIN_EXE_cargo-merge"));
    exe.ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .or_else(|| exe.ancestors().nth(2))
        .expect("the binary lives in a target folder")
        .to_path_buf()
}

/// `cargo merge analyze --traffic PATH`, human report to /dev/null.
pub fn analyze(dir: &Path) {
    analyze_with(dir, &[]);
}

/// `cargo merge analyze --traffic DIR` with `extra` arguments, its report thrown away.
pub fn analyze_with(dir: &Path, extra: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .args(["merge", "analyze", "--traffic"])
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run cargo-merge");
    assert!(
        out.status.success(),
        "cargo merge analyze failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cargo merge analyze` once and returns its peak RSS in KiB. Must run before any other
/// child is waited for: `RUSAGE_CHILDREN` gives the largest peak of all waited-for children.
pub fn peak_rss_kib(dir: &Path) -> u64 {
    analyze(dir);
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given, which points to
    // memory of that type; the return value is checked before the memory is read.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: getrusage returned 0, so it filled the struct (it was zeroed before as well).
    let usage = unsafe { usage.assume_init() };
    // KiB on Linux.
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}

/// Criterion's median estimate for one benchmark, in seconds.
pub fn median_secs(bench_dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(bench_dir.join("new").join("estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json["median"]["point_estimate"].as_f64()? / 1e9)
}
