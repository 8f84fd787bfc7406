//! The targets of the readers ([`run`]): each input is written to files in a folder of its own
//! (the readers read paths, as `--traffic`, `--profiles` and `--plan` give them), read, and held
//! to the property every reader promises: it returns its model or input errors, never panics,
//! and an error that names a line of one of the input's files names a line that file has.
//!
//! It needs only merge-analyzer (and tempfile), so the ordinary test suite includes this file
//! too (analyzer/tests/fuzz_regressions.rs) and replays every crash input kept under
//! fixtures/fuzz/<target>/ through [`run`].

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use merge_analyzer::import::{self, Format, Options};
use merge_analyzer::{ImportError, Service, SourceKind, Traffic, lock, profiles};

/// The readers' targets, as `cargo fuzz list` names them (fuzz_targets/<name>.rs).
pub const TARGETS: [&str; 15] = [
    "import_native_toml",
    "import_native_json",
    "import_native_csv",
    "import_alibaba",
    "import_dgg",
    "import_otlp",
    "import_jaeger",
    "import_zipkin",
    "import_links",
    "import_prometheus",
    "detect_and_import",
    "import_profiles",
    "read_plan",
    "read_lock",
    "check_scan",
];

/// Runs target `target` on `data`; panics when the property does not hold.
pub fn run(target: &str, data: &[u8]) {
    let one = |name: &'static str, format| check_import(&[(name, data)], Some(format), name);
    match target {
        "import_native_toml" => one("traffic.toml", Format::Native),
        "import_native_json" => one("traffic.json", Format::Native),
        "import_native_csv" => {
            let (services, calls) = split(data);
            let files = [("services.csv", services), ("calls.csv", calls)];
            check_import(&files, Some(Format::Native), "");
        }
        "import_alibaba" => {
            let (calls, resources) = split(data);
            let files = [
                ("MSCallGraph_0.csv", calls),
                ("MSResource_0.csv", resources),
            ];
            check_import(&files, Some(Format::Alibaba), "");
        }
        "import_dgg" => check_import(&[("S_1/graph1.json", data)], Some(Format::Dgg), ""),
        "import_otlp" => one("spans.jsonl", Format::Otlp),
        "import_jaeger" => one("traces.json", Format::Jaeger),
        "import_zipkin" => one("spans.json", Format::Zipkin),
        "import_links" => one("links.json", Format::Links),
        "import_prometheus" => one("series.prom", Format::Prometheus),
        "detect_and_import" => check_import(&[("traffic", data)], None, "traffic"),
        "import_profiles" => check_profiles(data),
        "read_plan" => check_plan(data),
        "read_lock" => check_lock(data),
        "check_scan" => check_scan(data),
        other => panic!("no fuzz target `{other}`"),
    }
}

thread_local! {
    /// One folder for every run of this process, emptied before each (a new folder per input
    /// would cost more than the read).
    static DIR: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// Runs `f` in an empty folder.
fn in_empty_dir<T>(f: impl FnOnce(&Path) -> T) -> T {
    DIR.with(|d| {
        let mut d = d.borrow_mut();
        let dir = d.get_or_insert_with(|| tempfile::tempdir().expect("a temporary folder"));
        for entry in std::fs::read_dir(dir.path())
            .expect("the folder reads")
            .flatten()
        {
            let p = entry.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
        f(dir.path())
    })
}

/// The input cut at its first line `---`: two files from one input.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(5).position(|w| w == b"\n---\n") {
        Some(i) => (&data[..i + 1], &data[i + 5..]),
        None => (data, &[]),
    }
}

/// Writes `files` (relative paths and bytes), reads `traffic` among them (`""`: the folder)
/// as `format` (or the guessed one), and checks what came back.
fn check_import(files: &[(&str, &[u8])], format: Option<Format>, traffic: &str) {
    in_empty_dir(|dir| {
        let written = write(dir, files);
        let path = if traffic.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(traffic)
        };
        let options = Options {
            format,
            ..Options::default()
        };
        if let Err(e) = import::load_all(&[&path], &options) {
            check_error(&e, &written);
        }
    });
}

/// Reads `data` as a plan file.
fn check_plan(data: &[u8]) {
    in_empty_dir(|dir| {
        let written = write(dir, &[("merge.toml", data)]);
        if let Err(e) = merge_analyzer::members::read_plan(&dir.join("merge.toml")) {
            check_error(&e, &written);
        }
    });
}

/// Folded profiles of services `a` and `S_1/c` (the input cut at `---` into `a.folded` and
/// `S_1/c.collapsed`) applied to a graph of three: the encoding costs that come back are
/// shares, between 0 and 1.
fn check_profiles(data: &[u8]) {
    let (a, c) = split(data);
    in_empty_dir(|dir| {
        let written = write(dir, &[("a.folded", a), ("S_1/c.collapsed", c)]);
        let mut traffic = Traffic::new(SourceKind::Native);
        let services: Vec<_> = ["a", "b", "S_1/c"]
            .into_iter()
            .filter_map(|name| traffic.add_service(Service::named(name)).ok())
            .collect();
        let patterns: Vec<String> = profiles::DEFAULT_PATTERNS
            .iter()
            .map(|p| p.to_string())
            .collect();
        match profiles::apply(&mut traffic, dir, &patterns) {
            Ok(_) => {
                for &ix in &services {
                    let s = traffic.service(ix);
                    if let Some(cost) = s.encoding_cost {
                        assert!(
                            (0.0..=1.0).contains(&cost),
                            "encoding cost {cost} of `{}` is no share",
                            s.name
                        );
                    }
                }
            }
            Err(e) => check_error(&e, &written),
        }
    });
}

/// Reads `data` as merge.lock, as `cargo merge status` does and as a build does for the
/// records it carries over: an error's line is one the file has.
fn check_lock(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As write() counts them: a reader may point just past the end.
    let lines = text.matches('\n').count() + 1;
    let built = std::collections::BTreeSet::from(["shop"]);
    let errors = [
        lock::read(text).err(),
        lock::records_not_built(text, &built).err(),
    ];
    for e in errors.into_iter().flatten() {
        assert!(!e.message.is_empty(), "an error with no message");
        if let Some(line) = e.line {
            assert!(
                (1..=lines).contains(&line),
                "an error at line {line} of a file of {lines} lines: {e}"
            );
        }
    }
}

/// Scans `data` as Rust source when it is text: every finding is on a line of the file.
///
/// Under cargo-fuzz (`cfg(fuzzing)`) proc-macro2 keeps no span locations (its source map would
/// grow for as long as the fuzzer runs), so every line is 0 there: the fuzzer checks that the
/// scanner never panics, and the ordinary tests, which replay the same inputs, check the lines.
#[allow(unexpected_cfgs)]
fn check_scan(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let found = merge_analyzer::check::scan::scan(text);
    if cfg!(fuzzing) {
        return;
    }
    let lines = text.lines().count().max(1);
    for found in found {
        assert!(
            (1..=lines).contains(&found.line),
            "a finding at line {} of a file of {lines} lines: {found:?}",
            found.line
        );
    }
}

fn write(dir: &Path, files: &[(&str, &[u8])]) -> Vec<(PathBuf, usize)> {
    files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&path, bytes).expect("write the input");
            // Lines as the readers count them: a last line without a newline still counts, and
            // a reader may point just past the end (an unexpected end of file).
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            (path, lines)
        })
        .collect()
}

fn check_error(e: &ImportError, files: &[(PathBuf, usize)]) {
    let ImportError::Input { errors, .. } = e else {
        return;
    };
    assert!(!errors.is_empty(), "an input error with no problem in it");
    for problem in errors {
        assert!(
            !problem.message.is_empty(),
            "a problem with no message: {problem:?}"
        );
        let Some(line) = problem.line else { continue };
        if let Some((_, lines)) = files.iter().find(|(p, _)| *p == problem.path) {
            assert!(
                (1..=*lines).contains(&line),
                "a problem at line {line} of a file of {lines} lines: {problem}"
            );
        }
    }
}
